from sloforge.cli import main

main()
