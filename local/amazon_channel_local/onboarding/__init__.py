"""`amazon-channel connect` and `amazon-channel doctor`: a store connected in one command after
`sam deploy`, and a report of what is missing or broken, one line each with its fix.

- `amazon_api.py`: Login with Amazon (a seller's refresh token, the application's grantless
  token) and the Notifications API (destinations, subscriptions), on urllib3.
- `stack_config.py`: what a stack holds for the channel (its secrets, stores table, queue, the
  Amazon and Commerce URLs its functions use), read and written through a `StackHandle`.
- `connect.py`, `doctor.py`: the two commands' work; `commands.py`: their command line.
"""
