"""The shared scenario modules (contract_common, http_common) hold most assertions of these tests; let
pytest rewrite them too, so a failure shows the compared values (it only rewrites test modules and
conftests by itself)."""
import pytest

pytest.register_assert_rewrite(f"{__package__}.contract_common", f"{__package__}.http_common")
