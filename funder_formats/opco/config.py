"""Configuration of an ``opco`` export (``exports.<name>`` with ``kind: opco``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from funder_formats.opco.profile import PROFILES_DIR, Profile
from hub.formats import FunderFormatConfig
from hub.profiles import ProfileOption

OUTPUTS = ("attendance_csv", "attendance_xlsx", "subrogation_bundle", "api_cfa")
Output = Literal["attendance_csv", "attendance_xlsx", "subrogation_bundle", "api_cfa"]

class DetailsFields(BaseModel):
    """Keys read from the ``details`` of the learner's ``funding.approved`` event (then of the
    ``enrolment.agreement_signed`` event) for what the OPCO asks and the core vocabulary lacks.

    The employer's SIRET and name, the file number and the subrogation are typed fields of the
    vocabulary (``data.employer_siret``…, read through :mod:`hub.journeys.dossier`); their keys
    here only name where events recorded before that hold them, and a typed field wins."""

    model_config = ConfigDict(extra="forbid")
    employer_siret: str = Field(default="employer_siret",
                                description="Older events: the details key of the employer's SIRET (now data.employer_siret)")
    employer_name: str = Field(default="employer_name",
                               description="Older events: the details key of the employer's name (now data.employer_name; "
                                           "`employer` is read too)")
    dossier: str = Field(default="dossier", description="Older events: the details key of the OPCO's file number (now "
                                                        "data.dossier; else the funding's `reference`)")
    learner_last_name: str = Field(default="learner_last_name", description="Last name, when the full name cannot be split")
    learner_first_name: str = Field(default="learner_first_name", description="First name")
    learner_usage_name: str = Field(default="learner_usage_name", description="Nom d'usage (API CFA `apprenti.nomUsage`)")
    invoice: str = Field(default="invoice_number", description="Invoice number (API CFA `numeroInterneFacture`)")
    echeances: str = Field(default="echeances",
                           description="The OPCO's payment schedule of an apprenticeship contract: a list of "
                                       "{numero, codification, dateDebut, dateFin}")
    subrogation: str = Field(default="subrogation", description="Older events: the details key of the subrogation (now "
                                                                "data.subrogation; false: the OPCO reimburses the employer, "
                                                                "no subrogation bundle)")


class ApiCfaOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    echeance: Literal["details", "period"] = Field(
        default="details",
        description="details: the échéance of the schedule in the funding's details that contains the period's end "
                    "(missing: a required field); period: number the échéances by period since the action's start")
    attach_certificate: bool = Field(default=True, description="Put the issued certificat de réalisation PDF in `_files.certificat`")
    conservation_pieces: bool = Field(default=True, description="attestationConservationPieces: the OF keeps the supporting pieces")
    nature_label: str = Field(default="Formation par apprentissage", description="natureAction")


class OpcoConfig(ProfileOption, FunderFormatConfig):
    """Keys of an ``opco`` export."""

    profile_model = Profile
    profiles_dir = PROFILES_DIR
    profile_error_prefix = "invalid profile: "

    profile: str = Field(default="atlas", description="A built-in profile (atlas, opco-ep, akto) or the path of a YAML profile")
    outputs: list[Output] = Field(default_factory=lambda: ["attendance_csv"], min_length=1,
                                  description="Files to produce: attendance_csv, attendance_xlsx, subrogation_bundle, api_cfa")
    statement: Literal["monthly", "end_of_action"] = Field(
        default="monthly",
        description="monthly: the half-days of the period; end_of_action: the whole action of the enrolments that "
                    "ended in the period")
    require_trainer_cosignature: bool = Field(
        default=True, description="A half-day signed by the learner alone is not billable (hours_billable = 0)")
    bill_foad: bool = Field(default=True, description="FOAD connection time is billable")
    opco_kinds: list[str] = Field(default_factory=lambda: ["opco"],
                                  description="Without `funders`: the funder kinds (funding_kind) this export covers")
    fields: DetailsFields = Field(default_factory=DetailsFields,
                                  description="Keys of the funding's details that hold what the OPCO asks (for the "
                                              "dossier fields: on events recorded before the vocabulary had them)")
    api_cfa: ApiCfaOptions = Field(default_factory=ApiCfaOptions, description="Options of the api_cfa output")

    @field_validator("outputs")
    @classmethod
    def _outputs(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("an output is listed twice")
        return value

