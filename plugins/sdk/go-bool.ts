// Go's boolean words for plugin authors: the one parser lives in common/.
export { isGoTrue, parseGoBool } from '../../common/go-bool.js';
