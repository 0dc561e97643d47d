# The collector is off while the command line imports: ~80 collections, ~20 ms of `dev`'s start,
# and nothing an import makes is garbage. cli.main turns it back on (`serve` and `dev` once their
# server modules are imported).
import gc

gc.disable()

from .cli import main  # noqa: E402

main()
