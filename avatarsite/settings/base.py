"""Settings shared by every environment; every value comes from the environment.

With no environment variables at all the site runs on the embedded default: SQLite, local files,
an in-process Celery broker and an in-process channel layer. Each external part switches on when
its variable is set (`DATABASE_URL`, `REDIS_URL`, `R2_*`). One module per concern under
`components/`, all reading through the one `env` of `components/env.py`.
"""

# Every component imports what it needs from the others, so the order here changes nothing.
from .components.accounts import *  # noqa: F403
from .components.accounts import _SOCIAL_CLIENTS, email_verification  # noqa: F401 - a setting as before; production.py's
from .components.api import *  # noqa: F403
from .components.billing import *  # noqa: F403
from .components.cache import *  # noqa: F403
from .components.catalogue import *  # noqa: F403
from .components.celery import *  # noqa: F403
from .components.core import *  # noqa: F403
from .components.database import *  # noqa: F403
from .components.env import BASE_DIR, env  # noqa: F401 - production.py and test.py import env from here
from .components.gallery import *  # noqa: F403
from .components.generation import *  # noqa: F403
from .components.metrics import *  # noqa: F403
from .components.providers import *  # noqa: F403
from .components.security import *  # noqa: F403
from .components.storage import *  # noqa: F403
