"""`python -m mock_portal --port 8081 [--world FILE] [--faults PROFILE] [--seed N]`."""
from __future__ import annotations

import argparse
import sys

from mock_portal.faults import FaultError, profile_names
from mock_portal.world import WorldError, named_worlds


def build_parser(prog: str = "mock_portal") -> argparse.ArgumentParser:
    """The command line of the mock portal."""
    p = argparse.ArgumentParser(prog=prog, description=(
        "Serve the mock DVCQG portal, integration adapter, Payment Platform and PayGov."))
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8081, help="port (0 picks a free one)")
    p.add_argument("--world", default=None,
                   help=f"world file or shipped world ({', '.join(named_worlds()) or 'none'}); "
                        "default: every national procedure listed, nothing integrated")
    p.add_argument("--faults", default=None,
                   help=f"fault profile ({', '.join(profile_names())}) or a JSON file of rules")
    p.add_argument("--seed", type=int, default=0, help="seed of the fault sequences")
    p.add_argument("--session-ttl", type=float, default=None, help="adapter session lifetime (s)")
    p.add_argument("--token-ttl", type=float, default=None, help="LGSP token lifetime (s)")
    p.add_argument("--callback-url", default=None, help="where DVCQG CONFIRM callbacks go")
    p.add_argument("--ipn-url", default=None, help="where PayGov IPNs go")
    p.add_argument("--public-url", default=None, help="base URL of the payment pages")
    return p


def main(argv: list[str] | None = None, prog: str = "mock_portal") -> int:
    """Parse arguments and serve until SIGTERM/SIGINT."""
    args = build_parser(prog).parse_args(argv)
    config = {key: value for key, value in (
        ("SESSION_TTL", args.session_ttl), ("TOKEN_TTL", args.token_ttl),
        ("DVCQG_CALLBACK_URL", args.callback_url), ("PAYGOV_IPN_URL", args.ipn_url),
        ("PUBLIC_URL", args.public_url)) if value is not None}
    from mock_portal.server import serve
    try:
        return serve(host=args.host, port=args.port, world=args.world, faults=args.faults,
                     seed=args.seed, **config)
    except (WorldError, FaultError, OSError) as exc:
        print(f"mock_portal: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
