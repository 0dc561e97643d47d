"""The Appwrite server version this emulator impersonates: the error envelope's `version`,
GET /v1/health/version, the `APPWRITE_VERSION` a function sees, and the default of `--appwrite-version`."""
APPWRITE_VERSION = "1.9.6"
