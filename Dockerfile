# avatarsite production image: one image for web, workers, beat and migrate (only the command differs).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The processes run as this user; the code stays owned by root, so they cannot rewrite it.
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home avatarsite

WORKDIR /app
# Requirements first, so a code change does not reinstall them (every pinned package ships wheels).
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected into the image and served by WhiteNoise. The base settings with DEBUG
# off select the manifest storage and need no secrets, so the build holds none.
RUN DJANGO_DEBUG=false DJANGO_SETTINGS_MODULE=avatarsite.settings.base \
    python manage.py collectstatic --noinput \
    && python -m compileall -q avatarsite gallery generation billing

# The metrics' multiprocess folder (docker-compose.yml mounts a shared volume here, which takes this owner).
RUN mkdir -p /var/lib/avatarsite/metrics && chown avatarsite:avatarsite /var/lib/avatarsite/metrics

USER avatarsite
ENV DJANGO_SETTINGS_MODULE=avatarsite.settings.production
EXPOSE 8000
# HTTP and websockets. X-Forwarded-* headers are honoured only from the addresses in
# FORWARDED_ALLOW_IPS (uvicorn's own variable, default 127.0.0.1): set it to the TLS proxy's address.
CMD ["uvicorn", "avatarsite.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--lifespan", "on"]
