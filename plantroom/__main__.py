from plantroom.cli import main

main()
