"""The scan report as the API, the dataset page and Croissant say it."""
from __future__ import annotations

from marketplace.pii import detector, evaluation
from marketplace.pii.models import VersionPiiReport


def report_body(slug: str, number: str, row: VersionPiiReport) -> dict:
    measured = evaluation.reported(row.detector_version) if row.detector_version == detector.DETECTOR_VERSION \
        else None
    return {
        "dataset": slug,
        "version": number,
        "detector": row.detector,
        "detector_version": row.detector_version,
        "records_scanned": row.records_scanned,
        "records_with_findings": row.records_with_findings,
        "redaction": row.redaction,
        "findings": dict(row.findings),
        "kept": dict(row.kept),
        "allowed": row.allowed,
        "not_scanned": list(detector.NOT_SCANNED),
        "evaluation": measured,
    }


def in_words(row: VersionPiiReport) -> str:
    """One paragraph for the dataset page and Croissant's rai:personalSensitiveInformation."""
    replaced = sum(row.findings.values())
    kinds = ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in row.findings.items()) or "none"
    kept = ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in row.kept.items())
    mode = "typed placeholders such as <EMAIL>" if row.redaction == "placeholder" \
        else "typed pseudonyms, different for each license"
    text = (f"Every record ({row.records_scanned:,}) was scanned by {row.detector} "
            f"{row.detector_version} for e-mail addresses, phone numbers, public IP addresses, "
            f"payment cards, IBANs, user handles, profile links and street addresses. "
            f"{replaced:,} values in {row.records_with_findings:,} records ({kinds}) are replaced "
            f"in exports by {mode}.")
    if kept:
        text += f" Kept as written by the platform's choice: {kept}."
    if row.allowed:
        text += f" {row.allowed:,} values on the platform's allow-list are kept as written."
    text += (" Not scanned: " + ", ".join(k.replace("_", " ") for k in detector.NOT_SCANNED)
             + ". Redaction is not anonymisation.")
    return text
