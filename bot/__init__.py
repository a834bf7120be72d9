"""paperboy's platform-neutral core: papers, storage, search and (later) the bot's decisions."""
