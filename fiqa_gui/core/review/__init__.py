"""What the review window shows, computed headless (Qt-free on purpose: every number on
screen can be reproduced from the CLI or a notebook). One module per job; import from them."""
