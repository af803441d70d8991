"""What the repository itself must (not) contain."""

import re
import subprocess

from conftest import ROOT


def test_profiles_example_reads_every_secret_from_the_environment():
    text = (ROOT / "profiles.yml.example").read_text()
    passwords = re.findall(r"^\s*password:\s*(.*)$", text, flags=re.M)
    assert passwords, "profiles.yml.example has no password settings to check"
    assert all(re.fullmatch(r"\"\{\{ env_var\('[A-Z_]+', ''\) \}\}\"", p.strip()) for p in passwords), passwords


def test_no_credentials_or_local_profiles_are_committed():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert "profiles.yml" not in tracked
    assert not [f for f in tracked if f.endswith((".env", ".pgpass", ".pem", "id_rsa"))]
    for name in tracked:
        path = ROOT / name
        if path.suffix in (".yml", ".yaml", ".py", ".sh", ".toml", ".cfg") and path.is_file():
            text = path.read_text(errors="replace")
            assert not re.search(r"password\s*[:=]\s*['\"]?[A-Za-z0-9!@#$%^&*]{6,}", text, flags=re.I), name
