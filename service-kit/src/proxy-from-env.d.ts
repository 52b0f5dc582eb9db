// proxy-from-env 2.x ships no type declarations.
declare module 'proxy-from-env' {
  /** The proxy URL for `url` from the *_PROXY / NO_PROXY environment variables, or '' for none. */
  export function getProxyForUrl(url: string | URL): string;
}
