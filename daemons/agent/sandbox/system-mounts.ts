/**
 * The read-only part of the sandbox's file system: /usr, the top-level
 * /bin, /lib… as this host has them (symlinks on merged-/usr hosts, directories
 * elsewhere), and from /etc only a list of harmless files (users, hosts, DNS,
 * CA certificates, dynamic linker, time zone, git's system config). Nothing else
 * of /etc, so /etc/ccc (the env files with the cluster's secrets) is not there.
 */
import { existsSync, lstatSync, readlinkSync } from 'node:fs';

const TOP_LEVEL = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** What the CLI and ordinary build tools need of /etc; missing entries are skipped. */
export const ETC_ENTRIES = [
  'passwd', 'group', 'hosts', 'hostname', 'resolv.conf', 'nsswitch.conf', 'host.conf', 'gai.conf',
  'ssl', 'ca-certificates', 'ca-certificates.conf', 'pki', 'alternatives', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d',
  'localtime', 'timezone', 'mime.types', 'os-release', 'debian_version', 'lsb-release', 'services', 'protocols',
  'bash.bashrc', 'profile', 'inputrc', 'terminfo', 'gitconfig', 'locale.alias', 'magic', 'subversion', 'npmrc', 'pip.conf',
];

/** bwrap arguments for the system directories, as this host lays them out. */
export function systemMounts(root = '/'): string[] {
  const at = (p: string) => (root === '/' ? p : root + p);
  const args = ['--ro-bind', at('/usr'), '/usr'];
  for (const dir of TOP_LEVEL) {
    if (!existsSync(at(dir))) continue;
    const stat = lstatSync(at(dir));
    if (stat.isSymbolicLink()) args.push('--symlink', readlinkSync(at(dir)), dir);
    else if (stat.isDirectory()) args.push('--ro-bind', at(dir), dir);
  }
  args.push('--tmpfs', '/etc');
  for (const entry of ETC_ENTRIES) if (existsSync(at(`/etc/${entry}`))) args.push('--ro-bind', at(`/etc/${entry}`), `/etc/${entry}`);
  return args;
}
