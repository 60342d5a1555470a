"""KeyCommands: methods only shape arguments and call execute_command; reply parsers
for these commands are in RESPONSE_CALLBACKS below (merged into the one dict in
rediscluster/callbacks.py)."""


class KeyCommands:
    pass


#: upper-case command name -> reply parser, for the commands of this module
RESPONSE_CALLBACKS = {}
