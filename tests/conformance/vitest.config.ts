import { pvProject } from '../../vitest.shared.ts';

export default pvProject('conformance', { testTimeout: 300_000 });
