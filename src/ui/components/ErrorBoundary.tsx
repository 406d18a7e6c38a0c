/** Catches a rendering error so the page shows what happened instead of going blank. */
import { Component, type ReactNode } from 'react';

export class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <div className="app">
        <div className="error" role="alert">
          <strong>The page hit an error and stopped drawing:</strong> {this.state.error.message}
          <div className="hint">Your model and settings are in the address bar and on disk; reload the page to start again.</div>
          <button type="button" onClick={() => this.setState({ error: null })}>Try to continue</button>
        </div>
      </div>
    );
  }
}
