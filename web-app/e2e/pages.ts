// What the browser tests read off the mesh's pages (graph and traces) and the app: label boxes as drawn, their
// font sizes on screen, overlaps, and whether a column is inside the viewport.
import type { Page } from 'playwright-core';

export interface Box {
  what: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export const VIEWPORTS = [
  { name: '1280x900', width: 1280, height: 900 },
  { name: '390x844', width: 390, height: 844 },
] as const;

/** Every edge and node label of the graph as drawn (page pixels), with its size on screen. */
export async function graphLabels(
  page: Page,
): Promise<{ labels: Array<Box & { px: number; text: string }>; badges: string[]; legendIcons: number; zoom: number }> {
  return page.evaluate(() => {
    const cy = (window as any).meshGraph;
    const origin = document.getElementById('graph')!.getBoundingClientRect();
    const zoom = cy.zoom();
    const labels = cy
      .elements(':visible')
      .filter((e: any) => e.isEdge() || !e.isParent())
      .map((e: any) => {
        const b = e.renderedBoundingBox({ includeLabels: true, includeNodes: false, includeEdges: false, includeOverlays: false });
        return {
          what: `${e.isEdge() ? 'edge' : 'node'} ${e.id()}`,
          x1: b.x1 + origin.left,
          y1: b.y1 + origin.top,
          x2: b.x2 + origin.left,
          y2: b.y2 + origin.top,
          px: parseFloat(e.style('font-size')) * zoom,
          text: String(e.data('label')),
        };
      });
    const badges = Array.from(document.querySelectorAll<SVGElement>('#overlay svg[data-badge]')).map(
      (svg) => `${(svg.closest('.node-badges') as HTMLElement).dataset.node} ${svg.dataset.badge}`,
    );
    return { labels, badges, legendIcons: document.querySelectorAll('#legend svg').length, zoom };
  });
}

/** Pairs of boxes that overlap by more than a pixel each way. */
export function overlaps(boxes: Box[]): string[] {
  const clashes: string[] = [];
  boxes.forEach((a, i) =>
    boxes.slice(i + 1).forEach((b) => {
      if (Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1) > 1 && Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1) > 1) clashes.push(`${a.what} overlaps ${b.what}`);
    }),
  );
  return clashes;
}

/** Whether an element's box lies inside the viewport's width (visible without scrolling sideways). */
export async function insideWidth(page: Page, selector: string): Promise<boolean> {
  const box = await page.locator(selector).first().boundingBox();
  const width = page.viewportSize()!.width;
  return box !== null && box.width > 0 && box.x >= 0 && box.x + box.width <= width + 0.5;
}
