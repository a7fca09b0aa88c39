"""Account forms: allauth's sign-in and sign-up forms with the site's wording and e-mail rule."""

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from django.contrib.auth import get_user_model


class LoginForm(AllauthLoginForm):
    """Username or e-mail address, and password."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Username or e-mail"
        self.fields["login"].widget.attrs["autocomplete"] = "username"
        self.fields["password"].help_text = ""  # the page links "Forgot your password?" under the button
        for field in self.fields.values():  # labels say it; placeholders repeating them are noise
            field.widget.attrs.pop("placeholder", None)


class SignupForm(AllauthSignupForm):
    """Username, e-mail and password twice; an e-mail address belongs to one account, in any case."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "E-mail"
        self.fields["email"].help_text = "For a confirmation link, password resets and receipts."
        self.fields["password2"].label = "Password (again)"
        for field in self.fields.values():  # labels say it; placeholders repeating them are noise
            field.widget.attrs.pop("placeholder", None)

    def validate_unique_email(self, value: str) -> str:
        email = super().validate_unique_email(value)
        # allauth compares User.email exactly; accounts made before it (or by createsuperuser) may
        # hold their address in another case.
        if not self.account_already_exists and get_user_model().objects.filter(email__iexact=email).exists():
            if allauth_settings.EMAIL_VERIFICATION == allauth_settings.EmailVerificationMethod.MANDATORY:
                # allauth's enumeration prevention: the form goes through and the owner gets a mail.
                self.account_already_exists = True
            else:
                raise get_adapter().validation_error("email_taken")
        return email
