import { describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import ArticleList from './ArticleList.vue';
import { sampleArticles } from '../testing';
import type { Article } from '../api';

const degraded: Article = {
  id: '3',
  title: 'Resiliency with fault injection',
  url: 'https://example.com/faults',
  authorName: '',
  authorBlog: '',
  authorTwitter: '',
};

describe('ArticleList', () => {
  it('renders one row per article with title, author, twitter and blog links', () => {
    const wrapper = mount(ArticleList, { props: { articles: sampleArticles } });
    const rows = wrapper.findAll('[data-test="article"]');
    expect(rows).toHaveLength(2);

    const first = rows[0]!;
    const title = first.find('[data-test="title"] a');
    expect(title.text()).toBe('Blue-green deployments with Istio');
    expect(title.attributes('href')).toBe('https://example.com/blue-green');
    expect(first.find('[data-test="author"]').text()).toBe('Niklas Heidloff');
    const twitter = first.find('[data-test="twitter"] a');
    expect(twitter.text()).toBe('@nheidloff');
    expect(twitter.attributes('href')).toBe('https://twitter.com/nheidloff');
    const blog = first.find('[data-test="blog"] a');
    expect(blog.attributes('href')).toBe('http://heidloff.net');
    expect(blog.text()).toBe('heidloff.net');
    expect(rows[1]!.find('[data-test="blog"] a').text()).toBe('haralduebele.blog');
    expect(wrapper.find('[data-test="degraded-notice"]').exists()).toBe(false);
  });

  it('uses table semantics: column headers and a row header per article', () => {
    const wrapper = mount(ArticleList, { props: { articles: sampleArticles } });
    expect(wrapper.findAll('thead th[scope="col"]').map((th) => th.text())).toEqual(['Title', 'Author', 'Twitter', 'Blog']);
    expect(wrapper.findAll('tbody th[scope="row"]')).toHaveLength(2);
    expect(wrapper.find('caption').text()).toBe('Articles with their authors');
  });

  it('renders empty author fields as "—" without links, and says why', () => {
    const wrapper = mount(ArticleList, { props: { articles: [sampleArticles[0]!, degraded] } });
    const row = wrapper.findAll('[data-test="article"]')[1]!;
    expect(row.find('[data-test="title"] a').text()).toBe('Resiliency with fault injection');
    for (const field of ['author', 'twitter', 'blog']) {
      const cell = row.find(`[data-test="${field}"]`);
      expect(cell.text()).toBe('—');
      expect(cell.find('a').exists()).toBe(false);
      expect(cell.find('.missing').attributes('aria-label')).toBe('not available');
    }
    expect(wrapper.find('[data-test="degraded-notice"]').text()).toContain('not available');
    // The healthy row keeps its links.
    expect(wrapper.findAll('[data-test="article"]')[0]!.findAll('a')).toHaveLength(3);
  });

  it('never turns odd values into links (javascript: URLs, spaces, missing fields)', () => {
    const odd = {
      id: '4',
      title: 'Odd',
      url: 'javascript:alert(1)',
      authorName: 'Someone',
      authorBlog: 'not a url',
      authorTwitter: 'has spaces in it',
    };
    const wrapper = mount(ArticleList, { props: { articles: [odd] } });
    expect(wrapper.findAll('a')).toHaveLength(0);
    expect(wrapper.find('[data-test="title"]').text()).toBe('Odd');
    expect(wrapper.find('[data-test="twitter"]').text()).toBe('has spaces in it');
    expect(wrapper.find('[data-test="blog"]').text()).toBe('—');
  });
});
