"""The provider catalogue as data: image services and their models, edited in the admin and applied
to the next job without a restart. Generation's registry reads it through a dotted path
(settings.GENERATION_PROVIDER_CATALOGUE), so this app imports no generation code."""
