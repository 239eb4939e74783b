"""The script Streamlit runs for `trustsim explore`; its arguments follow `--`."""

import sys

from trustsim.explore.page import main

main(sys.argv[1:])
