"""The provider catalogue (catalogue app): where generation's registry reads its providers from, and
how soon a change saved in the admin reaches every process."""

from .env import env

# The function that hands generation's registry the providers' configs: the catalogue's rows (the
# settings catalogue, GENERATION_PROVIDERS, while the table is empty). "" = settings only.
GENERATION_PROVIDER_CATALOGUE = env("GENERATION_PROVIDER_CATALOGUE", default="catalogue.selectors.provider_configs")
# Each process asks the cache for the catalogue's version at most this often (a job's run asks
# before it starts, whatever this is): a cache read, not a database query.
CATALOGUE_REFRESH_SECONDS = env.float("CATALOGUE_REFRESH_SECONDS", default=2.0)
