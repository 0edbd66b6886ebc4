from tutorhub_messaging.cli import main

main()
