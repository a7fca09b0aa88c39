"""factory_boy factories of the accounts app: users."""

import factory
from allauth.account.models import EmailAddress

from avatarsite.accounts.models import User

PASSWORD = "pw-123456789"


class UserFactory(factory.django.DjangoModelFactory):
    """A user made as `create_user` makes one (hashed password). `verified=True` adds the verified
    primary address that `accounts.services.user_create` gives operators' and tests' users."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class: type[User], *args: object, **kwargs: object) -> User:
        return model_class._default_manager.create_user(*args, **kwargs)

    @factory.post_generation
    def verified(user: User, create: bool, extracted: bool | None, **kwargs: object) -> None:
        if create and extracted:
            EmailAddress.objects.create(user=user, email=user.email.lower(), primary=True, verified=True)
