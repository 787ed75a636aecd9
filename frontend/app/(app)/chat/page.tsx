import type { Metadata } from "next";
import { ChatView } from "@/components/chat-view";
import { requireSession } from "@/lib/session";

export const metadata: Metadata = { title: "Chat" };

export default async function ChatPage() {
  const { user } = await requireSession();
  return (
    <>
      <h1>Chat</h1>
      <ChatView userId={user.id} />
    </>
  );
}
