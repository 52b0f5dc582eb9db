/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_MESH_GRAPH_URL?: string;
}
