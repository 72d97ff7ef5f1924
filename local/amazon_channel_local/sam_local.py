"""`sam` with the project's patches, for `sam local invoke` against the local stack:

    python -m amazon_channel_local.sam_local local invoke Fn -e events/... --env-vars env.json \\
        --docker-network host --skip-pull-image

The patches (amazon_channel_local.sam_local_patches) are applied to this process only, after the
SAM CLI version check; then SAM's own command line runs with the given arguments.
"""

from __future__ import annotations

import sys

from . import sam_local_patches


def main(argv: list[str] | None = None) -> None:
    """Patch SAM CLI, then run `sam <argv>` (exits with SAM's exit code)."""
    try:
        sam_local_patches.apply()
    except (sam_local_patches.UnsupportedSamCli, sam_local_patches.PatchNoLongerApplies) as e:
        sys.exit(f"amazon_channel_local.sam_local: {e}")
    from samcli.cli.main import cli

    cli.main(args=sys.argv[1:] if argv is None else argv, prog_name="sam")


if __name__ == "__main__":
    main()
