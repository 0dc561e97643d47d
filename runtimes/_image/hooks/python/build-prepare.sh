# Sourced by build.sh in /usr/local/build: the function's packages go to a venv inside the build,
# so they ship in the artifact. pip is only seeded when the build can use it (it costs ~3 s).
if [ -f requirements.txt ] || [[ "$1" == *pip* ]]; then
    python3 -m venv runtime-env
else
    python3 -m venv --without-pip runtime-env
fi
. runtime-env/bin/activate
