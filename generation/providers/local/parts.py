"""The avatar as a scene: every part (parts_* modules) in drawing order, back to front."""

from .parts_body import body
from .parts_face import face_features, head
from .parts_hair import hair_back, hair_front, long_hair_front
from .parts_headwear import eyewear, headwear
from .parts_scene import background_groups
from .shapes import Group, Look


def scene_groups(look: Look) -> list[Group]:
    """The avatar, back to front: background, hair behind, body, head, face, hair in front, eyewear, headwear."""
    groups: list[Group] = [*background_groups(look)]
    groups += hair_back(look)
    groups += body(look)
    groups += long_hair_front(look)
    groups += head(look)
    groups += face_features(look)
    groups += hair_front(look)
    groups += eyewear(look)
    groups += headwear(look)
    return [group for group in groups if group.shapes]
