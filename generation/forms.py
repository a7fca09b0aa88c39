"""The generate form: what a signed-in user asks for, within what their plan allows."""

from django import forms

from billing.entitlements import Entitlements

from .providers.local import STYLE_LABELS as LOCAL_STYLE_LABELS
from .services import STYLES
from .sizes import plan_sizes

STYLE_LABELS = {"photo": "Photo (AI, FLUX)", **{style: f"{label} (instant)" for style, label in LOCAL_STYLE_LABELS.items()}}
SIZES = (512, 1024, 2048)


class GenerateForm(forms.Form):
    prompt = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3, "placeholder": "A smiling woman with curly red hair and round glasses"})
    )
    style = forms.ChoiceField(choices=[(style, STYLE_LABELS.get(style, style)) for style in STYLES], initial="photo")
    # Optional: a post without them (an old page, a script) gets 1024 px and one image.
    size = forms.TypedChoiceField(coerce=int, initial=1024, required=False, empty_value=None, label="Size (px)")
    num_images = forms.TypedChoiceField(coerce=int, initial=1, required=False, empty_value=1, label="Images")
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text="Leave empty and the same description gives the same avatar again, at once and at no cost; set one for a variation.",
    )

    def __init__(self, *args, plan: Entitlements, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only sizes the plan's chain can deliver; one made by upscaling says so.
        sizes = plan_sizes(plan)
        self.fields["size"].choices = [(size, _size_label(size, sizes.upscaled_from(size))) for size in SIZES if size <= sizes.offered_max]
        self.fields["num_images"].choices = [(n, str(n)) for n in range(1, plan.max_images_per_request + 1)]
        if plan.max_images_per_request == 1:
            self.fields["num_images"].widget = forms.HiddenInput()


def _size_label(size: int, upscaled_from: int | None) -> str:
    return f"{size} x {size}" + (f" (upscaled from {upscaled_from} px)" if upscaled_from else "")
