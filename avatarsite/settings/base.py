"""
from .components.env import BASE_DIR, env  # noqa: F401 - the other settings modules import them from here

from .components.core import *  # noqa: F403
from .components.database import *  # noqa: F403
from .components.accounts import *  # noqa: F403
from .components.cache import *  # noqa: F403
from .components.gallery import *  # noqa: F403
from .components.generation import *  # noqa: F403
from .components.celery import *  # noqa: F403
from .components.storage import *  # noqa: F403
from .components.billing import *  # noqa: F403
from .components.api import *  # noqa: F403
from .components.security import *  # noqa: F403

# Names the other settings modules import from here (production.py) or that Django reads as settings.
from .components.accounts import _SOCIAL_CLIENTS, email_verification  # noqa: F401
"""

# Every component imports what it needs from the others, so the order here changes nothing.
from .components.accounts import *  # noqa: F403
from .components.accounts import _SOCIAL_CLIENTS, email_verification  # noqa: F401 - a setting as before; production.py's
from .components.api import *  # noqa: F403
from .components.billing import *  # noqa: F403
from .components.cache import *  # noqa: F403
from .components.celery import *  # noqa: F403
from .components.core import *  # noqa: F403
from .components.database import *  # noqa: F403
from .components.env import BASE_DIR, env  # noqa: F401 - production.py and test.py import env from here
from .components.gallery import *  # noqa: F403
from .components.generation import *  # noqa: F403
from .components.security import *  # noqa: F403
from .components.storage import *  # noqa: F403
