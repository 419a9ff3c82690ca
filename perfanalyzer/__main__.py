import sys

try:  # Ctrl-C while the modules load: exit 130 without a traceback
    from perfanalyzer.cli.main import main
except KeyboardInterrupt:
    sys.exit(130)

main()
