"""The owner's service catalogue and rate card: the only source of a proposal's prices.

Read from the config's `proposals.catalogue` (a path, once the config model has that field),
else `<home>/proposals/catalogue.yaml`, else the sample beside this module. The model picks
service codes and quantities; every amount is computed here."""

import hashlib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resources.settings import SettingsResource

SAMPLE_CATALOGUE = Path(__file__).with_name("sample_catalogue.yaml")


class CatalogueError(Exception):
    """The catalogue is missing or invalid; the message says where."""


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")
    """What the model names a service by."""
    name: str = Field(min_length=1, max_length=120)
    unit: str = Field(min_length=1, max_length=40)
    unit_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    max_quantity: int = Field(default=100, gt=0)


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = Field(pattern=r"^[A-Z]{3}$")
    validity_days: int = Field(default=30, gt=0, le=365)
    earliest_start_days: int = Field(default=7, ge=1, le=365)
    services: tuple[Service, ...] = Field(min_length=1)
    version: str = ""
    """Content hash of the file: each proposal records the catalogue it was priced from."""

    def service(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def codes(self) -> list[str]:
        return [s.code for s in self.services]


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def catalogue_path(settings: SettingsResource) -> Path:
    configured = getattr(settings.config(), "proposals", None)
    explicit = getattr(configured, "catalogue", None)
    if explicit:
        return Path(explicit)
    own = settings.home_dir().root / "proposals" / "catalogue.yaml"
    return own if own.exists() else SAMPLE_CATALOGUE


def load_catalogue(path: Path) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
        raw: Any = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CatalogueError(f"cannot read the catalogue {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise CatalogueError(f"the catalogue {path} must hold a mapping")
    version = "catalogue-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    try:
        catalogue = Catalogue.model_validate({**raw, "version": version})
    except ValidationError as exc:
        raise CatalogueError(f"invalid catalogue {path}: {exc.errors()[0]['msg']}") from exc
    codes = catalogue.codes()
    if len(set(codes)) != len(codes):
        raise CatalogueError(f"the catalogue {path} lists a service code twice")
    return catalogue
