"""Django's format modules (FORMAT_MODULE_PATH): how the admin shows dates on its own."""
