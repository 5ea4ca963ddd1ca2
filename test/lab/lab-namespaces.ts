/** The two network namespaces of a lab link, and how to run a command in either. */
export interface LabNamespaces {
  /** Namespace and address of the server side (run endpoints and iperf3 servers here). */
  readonly serverNs: string;
  readonly serverIp: string;
  /** Namespace and address of the client side (run the agent, and the browser, here). */
  readonly clientNs: string;
  readonly clientIp: string;
  /** `ip netns exec` prefix for a command in the server or client namespace. */
  inServer(...argv: string[]): string[];
  inClient(...argv: string[]): string[];
}
