"""A test PKI for TLS and Plug & Charge, made with the `iso15118` package's own script.

The package ships the OpenSSL configurations and `create_certs.sh` but no certificates. This
copies them to a folder and runs the script there (needs openssl). ISO 15118-2 layout, which
the package also uses for ISO 15118-20.

    make_test_pki out/pki      # then: ev_node -p pki_path:=out/pki, charger_simulator --pki out/pki
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def package_pki() -> Path:
    import iso15118
    return Path(iso15118.__file__).parent / 'shared' / 'pki'


def create_pki(destination: Path) -> Path:
    """Create (or re-use, when complete) a PKI in `destination`; its path with a trailing /."""
    destination = destination.resolve()
    if not (destination / 'iso15118_2' / 'certs' / 'cpoCertChain.pem').exists():
        shutil.rmtree(destination, ignore_errors=True)
        shutil.copytree(package_pki(), destination)
        subprocess.run(['bash', 'create_certs.sh', '-v', 'iso-2'], cwd=destination, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return destination


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print('usage: make_test_pki DIRECTORY', file=sys.stderr)
        return 2
    try:
        print(create_pki(Path(argv[0])))
    except subprocess.CalledProcessError as exc:
        print(f'create_certs.sh failed: {exc.stderr.decode(errors="replace")}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
