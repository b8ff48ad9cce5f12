#!/usr/bin/env bash
# Nightly backup: `python -m core.cli backup` into BACKUP_DIR, keeping RETENTION_DAYS days.
#
#   BACKUP_DIR=/var/backups/trustpool RETENTION_DAYS=14 deploy/backup.sh
#
# Reads DATABASE_URL like every other command (PostgreSQL: pg_dump's custom format, restored
# with `python -m core.cli restore FILE`; SQLite: a consistent copy of the file). Run it as the
# app's user, from cron or a systemd timer:
#
#   # crontab -e  (02:30 every night)
#   30 2 * * * cd /opt/trustpool && set -a && . /etc/trustpool/env && set +a && deploy/backup.sh >> /var/log/trustpool-backup.log 2>&1
#
#   # /etc/systemd/system/trustpool-backup.service
#   [Unit]
#   Description=TrustPool nightly backup
#   [Service]
#   Type=oneshot
#   User=trustpool
#   WorkingDirectory=/opt/trustpool
#   EnvironmentFile=/etc/trustpool/env
#   ExecStart=/opt/trustpool/deploy/backup.sh
#
#   # /etc/systemd/system/trustpool-backup.timer   (systemctl enable --now trustpool-backup.timer)
#   [Unit]
#   Description=TrustPool nightly backup
#   [Timer]
#   OnCalendar=*-*-* 02:30:00
#   Persistent=true
#   [Install]
#   WantedBy=timers.target
set -euo pipefail
cd "$(dirname "$0")/.."

BACKUP_DIR="${BACKUP_DIR:-backups}"
RETENTION_DAYS="${RETENTION_DAYS:-14}"
PYTHON="${PYTHON:-python3}"
case "$RETENTION_DAYS" in
  ''|*[!0-9]*|0) echo "backup.sh: RETENTION_DAYS must be a whole number of days, at least 1" >&2; exit 2;;
esac

mkdir -p "$BACKUP_DIR"
if [[ "${DATABASE_URL:-sqlite}" == sqlite* ]]; then suffix=db; else suffix=dump; fi
target="$BACKUP_DIR/trustpool-$(date +%Y-%m-%d-%H%M%S).$suffix"
"$PYTHON" -m core.cli backup "$target"

# Retention: backups RETENTION_DAYS days old or older go; the one just written always stays.
find "$BACKUP_DIR" -maxdepth 1 -type f \( -name 'trustpool-*.db' -o -name 'trustpool-*.dump' \) \
  -mtime "+$((RETENTION_DAYS - 1))" ! -path "$target" -print -delete \
  | sed 's/^/backup.sh: removed (older than retention) /'
