# avatarsite production image: one image for web, workers and beat (the command differs).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected into the image and served by WhiteNoise; the base settings with
# DEBUG off need no secrets, so the build has none.
RUN DJANGO_DEBUG=false DJANGO_SETTINGS_MODULE=avatarsite.settings.base python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home /app avatarsite \
    && chown -R avatarsite /app

USER avatarsite
ENV DJANGO_SETTINGS_MODULE=avatarsite.settings.production
EXPOSE 8000
CMD ["uvicorn", "avatarsite.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--forwarded-allow-ips", "*"]
