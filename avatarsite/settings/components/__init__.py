"""The settings by concern, combined in order by avatarsite/settings/base.py."""
