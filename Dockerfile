# Sump's image. Elsewhere `docker build .` starts from debian:bookworm-slim; `make image` starts from a Debian base
# made by debootstrap (BASE), for a machine that reaches Debian's packages but no image registry.
# The schema is migrated by an explicit `sump db upgrade` (compose.yaml's migrate service), never at every start.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
# Empty: argon2-cffi's portable wheel, and Sump hashes passwords with libsodium. Compiler flags (say
# "-O3 -march=x86-64-v3" for CPUs with AVX2, "-O3 -march=native" for the build machine's kind): its bindings are
# built from source with them, which halves a hash where libsodium's fresh memory per hash is dear (virtual
# machines); Sump measures both engines at start and keeps the cheaper. The image then runs only on CPUs with
# those instructions.
ARG ARGON2_CFLAGS=
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ${ARGON2_CFLAGS:+gcc python3-dev} \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# requirements.lock pins the development tools too: used as constraints, it pins what Sump's own dependencies
# bring and installs nothing else. Wheels only, but for ARGON2_CFLAGS. Where TLS to the package index is
# inspected by a proxy, pass the trust store pip needs as a secret (`make image` passes the machine's own):
# --secret id=ca-certificates,src=/etc/ssl/certs/ca-certificates.crt; no layer keeps it.
COPY pyproject.toml requirements.lock ./
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export PIP_CERT=/run/secrets/ca-certificates; fi \
 && python3 -m venv /opt/sump \
 && python3 -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
    > dependencies.txt \
 && /opt/sump/bin/pip install --no-cache-dir --disable-pip-version-check --only-binary=:all: \
    --constraint requirements.lock --requirement dependencies.txt \
 && if [ -n "$ARGON2_CFLAGS" ]; then CFLAGS="$ARGON2_CFLAGS" /opt/sump/bin/pip install --no-cache-dir \
    --disable-pip-version-check --no-deps --force-reinstall --no-binary argon2-cffi-bindings \
    "$(grep '^argon2-cffi-bindings==' requirements.lock)"; fi
COPY README.md ./
COPY src ./src
# Sump itself, then pip and setuptools leave the environment.
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export PIP_CERT=/run/secrets/ca-certificates; fi \
 && /opt/sump/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps . \
 && /opt/sump/bin/python -m pip uninstall --yes --disable-pip-version-check pip setuptools

FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 sump \
 && useradd --uid 10001 --gid sump --no-create-home --home-dir /var/lib/sump --shell /usr/sbin/nologin sump \
 && install -d -o sump -g sump -m 750 /var/lib/sump
COPY --from=build /opt/sump /opt/sump
ENV PATH=/opt/sump/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# Numeric, so that an orchestrator can tell it is not root without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/sump
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health/ready', timeout=4)"]
ENTRYPOINT ["sump"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
