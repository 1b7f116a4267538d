"""mock_portal: a stand-alone Flask app that plays the DVCQG portal, its integration adapter, the
DVCQG Payment Platform and PayGov (via LGSP) per shared/contracts/portal.md.

It imports neither `registry` nor `connectors`: the contract tests would otherwise test our code
against itself.
"""
from mock_portal.app import create_app

__all__ = ["create_app"]
