/**
 * Which TCP addresses a set of processes listens on, read from /proc (Linux): each process's socket inodes
 * (/proc/PID/fd) joined with the LISTEN rows of /proc/net/tcp and /proc/net/tcp6.
 */
import fs from 'node:fs';

export { withDescendants } from '@cns/service-kit/testing';

export interface ListeningSocket {
  pid: number;
  address: string;
  port: number;
}

/** 0100007F → 127.0.0.1; IPv6 as 4 little-endian words → a plain text form (`::1`, `::`, `::ffff:127.0.0.1`...). */
export function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    return [0, 1, 2, 3].map((i) => parseInt(hex.slice(6 - i * 2, 8 - i * 2), 16)).join('.');
  }
  const bytes: number[] = [];
  for (let word = 0; word < 4; word++) {
    const w = hex.slice(word * 8, word * 8 + 8);
    for (let i = 3; i >= 0; i--) bytes.push(parseInt(w.slice(i * 2, i * 2 + 2), 16));
  }
  if (bytes.every((b) => b === 0)) return '::';
  if (bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1) return '::1';
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(':');
}

/** LISTEN sockets by inode, from /proc/net/tcp and tcp6. */
function listenSocketsByInode(): Map<string, { address: string; port: number }> {
  const byInode = new Map<string, { address: string; port: number }>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue;
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== '0A') continue; // 0A = LISTEN
      const [addressHex, portHex] = fields[1].split(':');
      byInode.set(fields[9], { address: decodeAddress(addressHex), port: parseInt(portHex, 16) });
    }
  }
  return byInode;
}

/** Every TCP socket the processes listen on. Needs the processes to be readable (same user). */
export function listeningSockets(pids: readonly number[]): ListeningSocket[] {
  const listening = listenSocketsByInode();
  const found: ListeningSocket[] = [];
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // the process ended
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      const socket = inode ? listening.get(inode) : undefined;
      if (socket) found.push({ pid, ...socket });
    }
  }
  return found;
}

export function isLoopbackAddress(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}
