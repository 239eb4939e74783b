from trustsim.cli import main

main()
