from perfanalyzer.cli.main import main

main()
