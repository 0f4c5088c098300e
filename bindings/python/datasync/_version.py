"""The import-time check that the loaded libdatasync matches the extension."""

from __future__ import annotations

from typing import Tuple


def _split(number: int) -> Tuple[int, int, int]:
    return number // 1_000_000, (number // 1000) % 1000, number % 1000


def check_versions(compiled: int, runtime: int, runtime_text: str = "") -> None:
    """Raises ImportError unless major.minor of the two versions match.

    ``compiled`` is the DS_VERSION_NUMBER the extension was built against,
    ``runtime`` the loaded library's ds_version_number(). Before 1.0 a minor
    version may change the ABI, so both must agree.
    """
    cmaj, cmin, cpatch = _split(compiled)
    rmaj, rmin, rpatch = _split(runtime)
    if (cmaj, cmin) != (rmaj, rmin):
        shown = runtime_text or f"{rmaj}.{rmin}.{rpatch}"
        raise ImportError(
            f"datasync: the loaded libdatasync is version {shown}, but this extension was built "
            f"for {cmaj}.{cmin}.{cpatch} (major.minor must match). Another libdatasync is probably "
            "found first (check LD_LIBRARY_PATH); reinstall the datasync package or rebuild it "
            "against the library you mean to use."
        )
