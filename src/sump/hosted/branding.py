"""An environment's branding as its hosted pages show it: the application's name, its logo and its colour.

The values come from the environment's settings, validated when they were saved (`environments.schemas`); the
colour is checked again here, because it is written into a style sheet rather than into escaped HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sump.db.tables.environments import Environment
from sump.environments.schemas import EnvironmentSettings
from sump.kit.origins import origin_of

COLOUR = re.compile(r"#[0-9a-f]{6}")


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str | None = None
    logo_origin: str | None = None  # allowed by the page's Content-Security-Policy, nothing else is
    color: str | None = None

    def style_sheet(self) -> str:
        """The CSS custom property that colours the pages' buttons and links (nothing when unset)."""
        if self.color is None or not COLOUR.fullmatch(self.color):
            return ""
        return f":root {{ --brand: {self.color}; }}\n"


def brand_of(environment: Environment) -> Brand:
    settings = EnvironmentSettings.model_validate(environment.settings)
    logo_origin = origin_of(settings.logo_url) if settings.logo_url else None
    return Brand(
        name=settings.display_name or environment.name,
        logo_url=settings.logo_url if logo_origin else None,
        logo_origin=logo_origin,
        color=settings.primary_color,
    )
