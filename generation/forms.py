"""The generate form: what a signed-in user asks for, within what their plan and this site allow."""

from django import forms

from billing.entitlements import Entitlements

from .sizes import plan_sizes
from .styles import STYLES, StyleChoice, default_style, style_choices, style_label

SIZES = (512, 1024, 2048)
PROMPT_PLACEHOLDER = "A smiling woman with curly red hair and round glasses"


class GenerateForm(forms.Form):
    prompt = forms.CharField(
        label="Describe your avatar",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": PROMPT_PLACEHOLDER, "class": "input", "maxlength": 500}),
        help_text="Hair (colour, curly, long, bun…), beard, glasses, a hat and its colour, clothes, a smile.",
    )
    # Every style is a choice, so that one this site cannot make is refused with its reason (clean_style),
    # not as "not one of the available choices"; the page draws them as a picker of its own.
    style = forms.ChoiceField(choices=[(style, style_label(style)) for style in STYLES], widget=forms.RadioSelect)
    # Optional: a post without them (an old page, a script) gets 1024 px and one image.
    size = forms.TypedChoiceField(coerce=int, initial=1024, required=False, empty_value=None, label="Size")
    num_images = forms.TypedChoiceField(coerce=int, initial=1, required=False, empty_value=1, label="Images")
    seed = forms.IntegerField(
        label="Seed (optional)",
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        widget=forms.NumberInput(attrs={"class": "input", "inputmode": "numeric", "placeholder": "Any whole number"}),
        help_text="Leave it empty and the same description gives the same avatar again, at once and at no cost; "
        "another number gives a variation.",
    )

    def __init__(self, *args, plan: Entitlements, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan
        # The ones that can be made first: a style this site cannot make is shown, with why, after them.
        self.style_choices: list[StyleChoice] = sorted(style_choices(plan=plan), key=lambda choice: not choice.available)
        # Never a style that would be refused: AI photos only where this site can make them.
        self.fields["style"].initial = default_style(plan=plan)
        # Only sizes the plan's chain can deliver; one made by upscaling says so.
        sizes = plan_sizes(plan)
        self.fields["size"].choices = [(size, _size_label(size, sizes.upscaled_from(size))) for size in SIZES if size <= sizes.offered_max]
        # Only as many images as a model of the chain makes in one request.
        self.fields["num_images"].choices = [(n, str(n)) for n in range(1, sizes.offered_images + 1)]
        if sizes.offered_images == 1:
            self.fields["num_images"].widget = forms.HiddenInput()
        for name in ("size", "num_images"):
            self.fields[name].widget.attrs.setdefault("class", "input")

    def clean_style(self) -> str:
        style = self.cleaned_data["style"]
        choice = next(choice for choice in self.style_choices if choice.value == style)
        if not choice.available:
            raise forms.ValidationError(f"{choice.reason} Choose an instant style instead.", code="style_unavailable")
        return style

    def chosen_style(self) -> str:
        """The style the picker shows as chosen: the one posted when it can be made, else the default."""
        value = self.data.get("style") if self.is_bound else None
        available = {choice.value for choice in self.style_choices if choice.available}
        return value if value in available else self.fields["style"].initial


def _size_label(size: int, upscaled_from: int | None) -> str:
    return f"{size} \N{MULTIPLICATION SIGN} {size} px" + (f" (upscaled from {upscaled_from} px)" if upscaled_from else "")
