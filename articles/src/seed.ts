import type { ArticleInput } from './store';

/**
 * Sample articles written for this project, oldest first (the last one is the newest). Every author here
 * exists in the authors service's seed (a test checks that).
 */
export const seedArticles: readonly ArticleInput[] = [
  { title: 'Why every service here answers /readyz', url: 'https://adaquill.example/blog/readyz', author: 'Ada Quill' },
  { title: 'Trace headers your code must forward', url: 'https://priyaraman.example/notes/trace-headers', author: 'Priya Raman' },
  { title: 'Shutting down a Node service without dropping requests', url: 'https://milo-brandt.example/graceful-shutdown', author: 'Milo Brandt' },
  { title: 'DestinationRule subsets in plain words', url: 'https://tomasferreira.example/subsets', author: 'Tomas Ferreira' },
  { title: 'Weights are relative: traffic splits since Istio 1.15', url: 'https://hana-okafor.example/writing/relative-weights', author: 'Hana Okafor' },
  { title: 'Header-based routing for a friendly beta', url: 'https://adaquill.example/blog/end-user-routing', author: 'Ada Quill' },
  { title: 'Injecting a delay to find your real timeouts', url: 'https://priyaraman.example/notes/fault-delay', author: 'Priya Raman' },
  { title: 'Circuit breaking with a connection pool of one', url: 'https://milo-brandt.example/circuit-breaking', author: 'Milo Brandt' },
  { title: 'Outlier detection: ejecting the noisy pod', url: 'https://tomasferreira.example/outlier-detection', author: 'Tomas Ferreira' },
  { title: 'Mirroring traffic to a version nobody sees yet', url: 'https://hana-okafor.example/writing/mirroring', author: 'Hana Okafor' },
  { title: 'Retries that do not melt the upstream', url: 'https://adaquill.example/blog/retries', author: 'Ada Quill' },
  { title: 'Reading a service graph: rates, errors and p99', url: 'https://priyaraman.example/notes/service-graph', author: 'Priya Raman' },
  { title: 'Canary releases from 10 % to 100 % in four commits', url: 'https://milo-brandt.example/canary', author: 'Milo Brandt' },
  { title: 'One source, two Deployments: versioning a backend', url: 'https://tomasferreira.example/two-versions', author: 'Tomas Ferreira' },
];
