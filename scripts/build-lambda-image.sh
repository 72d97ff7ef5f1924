#!/usr/bin/env bash
# Build, offline, a stand-in for the AWS Lambda Python 3.13 base image, and import it under the name
# SAM CLI runs python3.13 functions on (public.ecr.aws/lambda/python:3.13-x86_64), so that
# `sam local invoke --skip-pull-image` works on a machine that reaches no container registry.
#
#   scripts/build-lambda-image.sh [--force] [--pull]
#
#   --pull   first try `docker pull` of the official image (60 s at most); if it arrives, use it
#   --force  build even if an image of that name exists (else: nothing to do, the image is cached)
#
# What it is: a Debian trixie rootfs (debootstrap --variant=minbase, Debian's python3.13 and
# ca-certificates), the Runtime Interface Client `awslambdaric` and boto3 from PyPI (the Lambda
# runtime ships boto3), and /var/runtime/bootstrap, the file SAM's runtime interface emulator
# (aws-lambda-rie, which SAM CLI adds to the image itself) starts: it runs
# `python3.13 -m awslambdaric $_HANDLER` with /var/task and the layers' /opt/python on the path.
# Needs root, debootstrap, a Docker engine (scripts/docker-engine.sh), and Debian's and PyPI's
# package servers. The image stays in Docker's data root: later runs find it and build nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${LAMBDA_IMAGE:-public.ecr.aws/lambda/python:3.13-x86_64}
SUITE=${DEBIAN_SUITE:-trixie}             # Debian 13: its python3 is 3.13
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
AWSLAMBDARIC=awslambdaric==4.2.2
BOTO3=boto3==1.43.108                     # the project's boto3 (requirements-dev.txt)
STAND_IN_LABEL=amazon-channel.lambda-stand-in

force=0 pull=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --pull) pull=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "build-lambda-image.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

if [ "$force" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  kind=$(docker image inspect -f "{{index .Config.Labels \"$STAND_IN_LABEL\"}}" "$IMAGE" 2>/dev/null || true)
  echo "build-lambda-image.sh: $IMAGE is already there (${kind:+stand-in: }${kind:-official image}); nothing to do"
  exit 0
fi

if [ "$pull" = 1 ]; then
  if timeout 60 docker pull "$IMAGE" >/dev/null 2>&1; then
    echo "build-lambda-image.sh: pulled the official $IMAGE"
    exit 0
  fi
  echo "build-lambda-image.sh: $IMAGE cannot be pulled here; building the stand-in"
fi

[ "$(id -u)" = 0 ] || { echo "build-lambda-image.sh: run as root (debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-lambda-image.sh: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=$(command -v python3); fi

started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/lambda-python313.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

echo "build-lambda-image.sh: debootstrap $SUITE (minbase, python3.13) ..."
debootstrap --variant=minbase --include=python3.13,ca-certificates "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
[ -x "$root/usr/bin/python3.13" ] || { echo "build-lambda-image.sh: $SUITE has no python3.13" >&2; exit 1; }

echo "build-lambda-image.sh: pip install $AWSLAMBDARIC $BOTO3 ..."
site="$root/usr/local/lib/python3.13/dist-packages"
"$PY" -m pip install --quiet --disable-pip-version-check --no-compile --target "$site" \
  --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.13 --implementation cp \
  "$AWSLAMBDARIC" "$BOTO3" >"$work/pip.log" 2>&1 || { tail -n 30 "$work/pip.log" >&2; exit 1; }

mkdir -p "$root/var/runtime" "$root/var/task" "$root/opt"
cat >"$root/var/runtime/bootstrap" <<'EOF'
#!/bin/sh
# Stand-in for the AWS Lambda python3.13 runtime's bootstrap (started by the runtime interface emulator):
# the Runtime Interface Client loads the handler from /var/task, with the layers' /opt/python on the path.
export PYTHONPATH="/var/task:/opt/python/lib/python3.13/site-packages:/opt/python${PYTHONPATH:+:$PYTHONPATH}"
export AWS_EXECUTION_ENV="${AWS_EXECUTION_ENV:-AWS_Lambda_python3.13}"
cd "${LAMBDA_TASK_ROOT:-/var/task}"
exec /usr/bin/python3.13 -m awslambdaric "${_HANDLER:-$AWS_LAMBDA_FUNCTION_HANDLER}"
EOF
chmod 755 "$root/var/runtime/bootstrap"
# the image needs no package manager state, documentation or translations
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
       "$root"/usr/share/locale/* "$root"/var/log/*

echo "build-lambda-image.sh: docker import $IMAGE ..."
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV TZ=:/etc/localtime' \
  --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
  --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
  --change 'WORKDIR /var/task' \
  --change "LABEL $STAND_IN_LABEL=debian-$SUITE-python3.13-awslambdaric" \
  - "$IMAGE" >/dev/null

docker run --rm --network none --entrypoint /usr/bin/python3.13 "$IMAGE" \
  -c 'import awslambdaric.bootstrap, boto3, runtime_client' \
  || { echo "build-lambda-image.sh: the image does not import awslambdaric and boto3" >&2; exit 1; }
echo "build-lambda-image.sh: built the stand-in $IMAGE in $(( $(date +%s) - started )) s"
