# Kills its own process while being loaded (Python 2).
import os
import sys

print "about to exit"
sys.stdout.flush()
os._exit(1)
